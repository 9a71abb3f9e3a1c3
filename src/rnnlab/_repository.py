"""Where the course lives: the one place its repository URL is written.

Read by the package (`rnnlab.pages`: the Colab setup cells, the links of source
listings), by `setup.py` (the package's project URLs), by `_ext/pin_setup.py` (the
website's repository button and its "Open in Colab" buttons) and by
`tools/release.py setup-cells`, which writes it into the chapters' setup cells. To publish
your own copy, change it here and follow the README's "Publishing your own copy".
"""

REPOSITORY = "https://github.com/rnnlab-course/rnnlab"
# The branch the website is built and deployed from (.github/workflows/site.yml).
BRANCH = "main"
