"""The case metrics: versioned definitions, figures by period and org-unit subtree, and the
cases behind every figure."""
