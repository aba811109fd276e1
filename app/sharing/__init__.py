"""Sharing an initiative: link previews (OpenGraph tags and a card image Quorum draws), and share links that make no
request to anyone until the signer clicks one."""
