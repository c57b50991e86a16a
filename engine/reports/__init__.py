"""Reading resident reports before the rules do: categories, problems, topics (see reader)."""
