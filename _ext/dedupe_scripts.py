"""A tiny Sphinx extension: drop repeated <script> entries from every page.

sphinx-thebe 0.3.1 and sphinx-togglebutton under Sphinx 7 register their inline
configuration scripts twice (once with filename None, once with ''), which makes browsers
report "Identifier 'THEBE_JS_URL' has already been declared" on every page.
"""


def _key(script):
    filename = getattr(script, "filename", str(script)) or None   # '' and None: inline
    attributes = getattr(script, "attributes", {}) or {}
    return filename, tuple(sorted((k, str(v)) for k, v in attributes.items()))


def dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
