"""Views of the registry for people: the accountability map, `who` and `experiments`.

Each view is plain data built from a Registry (`blocks.py` holds the pieces,
`accountability.py` the map, `who.py` one person's or team's duties, `graph.py` the
lineage graph, `tree.py` the KPI tree, `experiments.py` the knowledge base of
experiments); `output.py` turns that data into text, Markdown, Mermaid, DOT, JSON
or HTML.
"""
