"""Campaign pages: campaigns and their calling rules, their dispositions, and the agents' data archive."""
