from reactbin.cli import main

main()
