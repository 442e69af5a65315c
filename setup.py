"""Where the package's files come from; everything else about it is in pyproject.toml.

The repository keeps templates/ and static/ beside the package (the project's layout); the
wheel carries them inside it, as kiosk/templates and kiosk/static, where an installed kiosk
looks for them (kiosk/__init__.py). Each folder is mapped as a package of data files, its
subfolders as its subpackages. An editable install maps them back to the checkout's folders."""
from setuptools import find_namespace_packages, setup

BESIDE = {"kiosk.templates": "templates", "kiosk.static": "static"}
DATA_PACKAGES = [f"{package}.{sub}" if sub else package
                 for package, folder in BESIDE.items() for sub in ["", *find_namespace_packages(where=folder)]]

setup(
    packages=find_namespace_packages(include=["kiosk", "kiosk.*"]) + DATA_PACKAGES,
    package_dir=BESIDE,
    package_data={
        "kiosk": ["data/*.json", "translations/*/LC_MESSAGES/*", "migrations/*", "migrations/**/*"],
        **{package: ["*"] for package in DATA_PACKAGES},
    },
)
