"""Reference data: the org-unit hierarchy (组织机构) and the category catalogue (事项分类),
loaded from versioned data files. ``python -m petitions_api.reference load`` loads them."""
