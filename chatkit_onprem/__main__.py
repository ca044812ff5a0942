from chatkit_onprem.cli.main import app

app()
