"""The reviewers' web page: server-rendered, in Chinese, on the same store as the API."""
