"""The clinical language layer: text, abbreviations, context, terms and indexes (issue 13)."""
