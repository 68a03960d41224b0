from shipwave.cli import main

main()
