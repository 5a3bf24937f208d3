# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Sphinx configuration of the collection's docs site, built by ``make docs`` into build/docs.

antsibull-docs writes the RST (the plugin and role reference from the plugins' own
documentation, plus the guides of docs/docsite/); Sphinx turns it into HTML with the Ansible
theme. This is antsibull-docs' ``sphinx-init`` configuration with one change: the build is
offline. The template's intersphinx mapping downloads inventories from docs.python.org and
docs.ansible.com; here the extension is not loaded, and references to pages outside this site
(ansible-core's own plugins and reference pages) become plain links to docs.ansible.com through
the ``missing-reference`` handler below. Any other unresolved reference stays a warning, and
``-W`` makes it an error.
"""

from __future__ import annotations

import re

project = "scimkit.atlassian"
copyright = "scimkit.atlassian contributors"  # pylint: disable=redefined-builtin
title = "scimkit.atlassian documentation"
html_short_title = "scimkit.atlassian"

extensions = ["sphinx_antsibull_ext"]

pygments_style = "ansible"
highlight_language = "YAML+Jinja"

html_theme = "sphinx_ansible_theme"
html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

default_role = "any"
nitpicky = True

# Ansible's documentation, for references to pages this site does not have.
ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/latest/"
ANSIBLE_PAGES = {
    "ansible_configuration_settings": "reference_appendices/config.html",
    "common_return_values": "reference_appendices/common_return_values.html",
}
# ansible_collections.<namespace>.<name>.<plugin>_<type>, optionally __<anchor> (an option or a return value).
PLUGIN_LABEL = re.compile(r"^ansible_collections\.(?P<ns>[a-z0-9_]+)\.(?P<name>[a-z0-9_]+)\.(?P<page>[a-z0-9_]+)(?:__(?P<anchor>.+))?$")


def external_reference(app, env, node, contnode):
    """Resolve a :ref: to a page outside this site into a link to docs.ansible.com, or leave it unresolved."""
    from docutils import nodes

    if node.get("refdomain") != "std" or node.get("reftype") != "ref":
        return None
    target = node.get("reftarget", "")
    url = None
    if target in ANSIBLE_PAGES:
        url = ANSIBLE_DOCS + ANSIBLE_PAGES[target]
    else:
        match = PLUGIN_LABEL.match(target)
        if match and (match["ns"], match["name"]) != ("scimkit", "atlassian"):
            url = f"{ANSIBLE_DOCS}collections/{match['ns']}/{match['name']}/{match['page']}.html"
            if match["anchor"]:
                url += f"#{match['anchor']}"
    if url is None:
        return None
    reference = nodes.reference("", "", internal=False, refuri=url)
    reference += contnode
    return reference


def setup(app):
    app.connect("missing-reference", external_reference)
