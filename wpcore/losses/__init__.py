"""Losses of the thesis's chapters: small pure functions, one file per chapter's kind of loss."""
