"""The HTTP service: ``featvec serve MODEL_DIR ...`` (FastAPI; ``pip install 'featvec[serve]'``)."""
from featvec.serve.app import create_app

__all__ = ["create_app"]
