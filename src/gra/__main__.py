from gra.cli.app import main

main()
