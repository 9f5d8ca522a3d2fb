# Two operation modules for the lazy-import tests; each import is counted here.
IMPORTS = []
