"""MkDocs hook for the documentation site: one page per seed story, with its figures.

The pages are written at build time from :data:`glassnet.tour.STORIES`, so the
site, the tour and ``glassnet tour`` share one set of figures and captions.
Nothing is written into docs/: pages and PNGs are generated files of the build.
"""

from __future__ import annotations

import os
import sys
import tempfile

from mkdocs.structure.files import File

DEMOS = {
    "four-pixel": "four-pixel",
    "x-and-o": "x-and-o",
    "digits": "digits",
    "dinner": "dinner",
    "childrens-book": "childrens-book",
    "shawarma": "shawarma",
}
NOTEBOOKS = {
    "four-pixel": "01-four-pixel-camera",
    "x-and-o": "02-x-and-o",
    "digits": "03-digits",
    "dinner": "04-dinner",
    "childrens-book": "05-childrens-book",
    "mm-bags": "06-mm-bags",
    "tea": "07-tea",
}


def on_files(files, config):
    root = os.path.dirname(config.config_file_path)
    sys.path.insert(0, os.path.join(root, "src"))
    from glassnet import tour

    out = tempfile.mkdtemp(prefix="glassnet-docs-")
    listing = [
        "# The seed stories",
        "",
        (
            "Each page is drawn by `glassnet tour` with its quick settings (fewer "
            "epochs and test images than the demos); run it yourself with the "
            "command or the notebook named at the end of each page."
        ),
        "",
    ]
    for name, (title, story) in tour.STORIES.items():
        items = story(out)
        page = [f"# {title}", ""]
        for item in items:
            page += [f"## {item.title}", ""]
            if item.file:
                page += [f"![{item.title}]({item.file})", ""]
                files.append(
                    File.generated(
                        config,
                        f"stories/{item.file}",
                        abs_src_path=os.path.join(out, item.file),
                    )
                )
            if item.text:
                page += ["```text", item.text, "```", ""]
            page += [item.caption, ""]
        yours = [f"`glassnet tour --only {name}`"]
        if name in DEMOS:
            yours.append(f"`glassnet demo {DEMOS[name]}`")
        if name in NOTEBOOKS:
            yours.append(f"the notebook `notebooks/{NOTEBOOKS[name]}.ipynb`")
        page += ["---", "", "Run it yourself: " + ", ".join(yours) + ".", ""]
        files.append(
            File.generated(config, f"stories/{name}.md", content="\n".join(page))
        )
        listing.append(f"- [{title}]({name}.md)")
    files.append(File.generated(config, "stories/index.md", content="\n".join(listing)))
    return files
