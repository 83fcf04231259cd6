"""Views of the registry for people: the accountability map and `who`.

Each view is plain data built from a Registry (`blocks.py` holds the pieces,
`accountability.py` the map, `who.py` one person's or team's duties, `trees.py` each
KPI's lineage as a tree, `graph.py` the lineage graph); `output.py` turns that data
into text, Markdown, Mermaid, DOT, JSON or HTML.
"""
