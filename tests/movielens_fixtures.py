"""Tiny hand-written files in the MovieLens formats (100K, 1M, 10M as ml-10M100K, 20M, latest-small).

They are not GroupLens data: user ids, ratings, timestamps and demographics are made up; only a few public
movie titles are used. The 100K and 1M item files are latin-1 encoded, the rest UTF-8. They are kept here
as bytes and written to a temporary folder by ``write_movielens_fixtures`` so that no file named like a
real dataset is tracked in the repository."""
from __future__ import annotations

from pathlib import Path

FILES: dict[str, bytes] = {
    'ml-100k/u.data': (
        b'1\t1\t5\t880000001\n'
        b'1\t2\t3\t880000002\n'
        b'2\t1\t4\t880000003\n'
        b'3\t3\t2\t880000004\n'
        b'2\t4\t1\t880000005\n'
    ),
    'ml-100k/u.genre': (
        b'unknown|0\n'
        b'Action|1\n'
        b'Adventure|2\n'
        b'Animation|3\n'
        b"Children's|4\n"
        b'Comedy|5\n'
        b'Crime|6\n'
        b'Documentary|7\n'
        b'Drama|8\n'
        b'Fantasy|9\n'
        b'Film-Noir|10\n'
        b'Horror|11\n'
        b'Musical|12\n'
        b'Mystery|13\n'
        b'Romance|14\n'
        b'Sci-Fi|15\n'
        b'Thriller|16\n'
        b'War|17\n'
        b'Western|18\n'
        b'\n'
    ),
    'ml-100k/u.item': (
        b'1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n'
        b'2|Cit\xe9 des enfants perdus, La (1995)|01-Jan-1995||http://us.imdb.com/x|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0|0\n'
        b'3|Some Film|04-Mar-1997||http://us.imdb.com/y|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0\n'
        b'4|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n'
    ),
    'ml-100k/u.user': (
        b'1|30|M|technician|10001\n'
        b'2|41|F|other|10002\n'
        b'3|19|M|writer|10003\n'
    ),
    'ml-10M100K/movies.dat': (
        b'122::Boomerang (1992)::Comedy|Romance\n'
        b'185::Net, The (1995)::Action|Crime|Thriller\n'
        b'8606::Pull My Daisy (1958)::(no genres listed)\n'
    ),
    'ml-10M100K/ratings.dat': (
        b'1::122::5::830000001\n'
        b'1::185::4.5::830000002\n'
        b'2::122::3.5::830000003\n'
    ),
    'ml-1m/movies.dat': (
        b'3::Grumpier Old Men (1995)::Comedy|Romance\n'
        b"661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
        b"1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        b'2000::Cr\xf3nica de una muerte anunciada (1987)::Drama\n'
        b'2001::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure|Fantasy|Sci-Fi\n'
    ),
    'ml-1m/ratings.dat': (
        b'1::1193::5::970000001\n'
        b'1::661::3::970000002\n'
        b'2::1193::4::970000003\n'
        b'3::3::2::970000004\n'
    ),
    'ml-1m/users.dat': (
        b'1::F::1::10::20001\n'
        b'2::M::56::16::20002\n'
        b'3::M::25::0::20003\n'
    ),
    'ml-20m/movies.csv': (
        b'movieId,title,genres\n'
        b'2,Jumanji (1995),Adventure|Children|Fantasy\n'
        b'29,"City of Lost Children, The (Cit\xc3\xa9 des enfants perdus, La) (1995)",Adventure|Drama|Fantasy|Mystery|Sci-Fi\n'
    ),
    'ml-20m/ratings.csv': (
        b'userId,movieId,rating,timestamp\n'
        b'1,2,3.5,1100000001\n'
        b'1,29,3.5,1100000002\n'
        b'2,2,4.0,1100000003\n'
    ),
    'ml-latest-small/movies.csv': (
        b'movieId,title,genres\n'
        b'1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n'
        b'3,"American President, The (1995)",Comedy|Drama|Romance\n'
        b'193609,Babylon 5,Sci-Fi\n'
        b'171749,Death Note: Desu n\xc3\xb4to (2006\xe2\x80\x932007),(no genres listed)\n'
    ),
    'ml-latest-small/ratings.csv': (
        b'userId,movieId,rating,timestamp\n'
        b'1,1,4.0,1400000001\n'
        b'1,3,4.0,1400000002\n'
        b'2,1,2.5,1400000003\n'
        b'3,193609,0.5,1400000004\n'
    ),
}


def write_movielens_fixtures(root: Path) -> Path:
    """Write every fixture file under ``root`` (one folder per dataset); returns ``root``."""
    for rel, data in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root
