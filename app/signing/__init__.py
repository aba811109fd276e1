"""The signer's side: the form, submission and confirmation."""
