from chatkit_onprem.cli.main import main

main()
