"""The web UI: the live page served by `livedrum run`, and the studio page (`livedrum studio`)."""
