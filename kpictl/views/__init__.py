"""Views of the registry for people: the accountability map and `who`.

Each view is plain data built from a Registry (`accountability.py`, `graph.py`);
`output.py` turns that data into text, Markdown, Mermaid, DOT, JSON or HTML.
"""
