from dsd_tui.cli import main

main()
