"""The `leash` command: demo on an emulated account, and the responder's tools."""
