"""saliweb, as saliflow runs it: the names saliweb services and their tests use.

saliflow ships this package itself (standard library only), so a service
runs on saliflow with saliweb uninstalled; saliflow puts this directory first
on PYTHONPATH, so an installed saliweb is never imported by a saliflow
service. Only `saliweb.backend` and `saliweb.test` are provided.
"""

__version__ = '0.1.0+saliflow'
