from leash_cli.main import app

app()
