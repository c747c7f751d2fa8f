"""Reading and writing: model folders (persistence) and event files (readers)."""
