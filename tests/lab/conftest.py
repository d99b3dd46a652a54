"""Shared fixtures' helper: a throw-away notebook with tagged code cells."""
import nbformat


def write_notebook(path, cells):
    """Write a python3 notebook of ``cells`` ((tag or None, code) pairs) to ``path``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for tag, code in cells:
        cell = nbformat.v4.new_code_cell(code)
        if tag:
            cell.metadata["tags"] = [tag]
        nb.cells.append(cell)
    nbformat.write(nb, path)
