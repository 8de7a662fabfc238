from perfhub.cli import main

main()
