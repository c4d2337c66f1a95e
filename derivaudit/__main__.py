from derivaudit.cli import console_main

console_main()
