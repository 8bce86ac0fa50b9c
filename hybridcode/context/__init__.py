"""Repository context with tree-sitter: repo map, extraction, placement, secret filtering."""
