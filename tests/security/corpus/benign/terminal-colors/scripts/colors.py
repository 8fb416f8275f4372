RED = "\x1b[31m"
RESET = "\x1b[0m"

def red(s):
    return RED + s + RESET
