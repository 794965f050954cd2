"""Text transforms that know nothing of documents or runs: wikitext, HTML, LaTeX, cc_net normalization."""
