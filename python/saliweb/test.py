"""saliweb.test: what a service's own unit tests use, run without MySQL,
a daemon or a cluster (saliflow's saliweb; standard library only)."""

import contextlib
import inspect
import os
import shutil
import sys
import tempfile
import unittest

import saliweb.backend

__all__ = ['TestCase', 'working_directory', 'temporary_directory',
           'temporary_working_directory', 'RunInDir', 'RunInTempDir', 'TempDir']


class _TestConfig(saliweb.backend.Config):
    """A config with admin_email and service_name set, read from no file."""

    def __init__(self):
        self._config_dir = os.getcwd()
        self.admin_email = 'testadmin@salilab.org'
        self.service_name = 'test_service'
        self.socket = None
        self.urltop = None
        self.github = None
        self.track_hostname = False
        self.backend = {}
        self.database = {}
        self.limits = {'running': 5}
        self.directories = {}
        self.oldjobs = {'archive': None, 'expire': None}


class _TestDatabase(saliweb.backend.Database):
    """A database that is never connected to."""


@contextlib.contextmanager
def working_directory(path):
    """Runs the body with `path` as the working directory."""
    cwd = os.getcwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(cwd)


@contextlib.contextmanager
def temporary_directory(dir=None):
    """A new temporary directory, removed afterwards."""
    path = tempfile.mkdtemp(dir=dir)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def temporary_working_directory():
    """Runs the body in a new temporary directory, removed afterwards."""
    with temporary_directory() as path:
        with working_directory(path):
            yield path


class RunInDir(object):
    """Changes to `path` for the object's lifetime (saliweb's older helper)."""

    def __init__(self, path):
        self._cwd = os.getcwd()
        os.chdir(path)

    def __del__(self):
        os.chdir(self._cwd)


class TempDir(object):
    """A temporary directory removed when the object goes (`.tmpdir`)."""

    def __init__(self):
        self.tmpdir = tempfile.mkdtemp()

    def __del__(self):
        shutil.rmtree(self.tmpdir, ignore_errors=True)


class RunInTempDir(RunInDir):
    """Changes to a new temporary directory for the object's lifetime (`.tmpdir`)."""

    def __init__(self):
        self.tmpdir = tempfile.mkdtemp()
        RunInDir.__init__(self, self.tmpdir)

    def __del__(self):
        RunInDir.__del__(self)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


class TestCase(unittest.TestCase):
    """A unittest.TestCase with saliweb's helpers for testing a service's Job."""

    def make_test_job(self, jobcls, state):
        """A job of class `jobcls` in `state`, named testjob, in a new temporary
        directory (removed after the test), with a test config; nothing is
        written to any database."""
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory, True)
        config = _TestConfig()
        db = _TestDatabase(jobcls)
        db.config = config
        jobdict = {'name': 'testjob', 'directory': directory, 'state': state,
                   'url': 'http://server/test/path/testjob?passwd=abc',
                   'contact_email': None, 'user': None, 'passwd': 'abc'}
        for field in db._fields:
            jobdict.setdefault(field.name, None)
        job = jobcls(db, jobdict, config)
        self.addCleanup(job._close_logger)
        return job

    def get_test_directory(self):
        """The folder of the service's tests: $SALIWEB_TESTDIR, else the test module's folder."""
        if 'SALIWEB_TESTDIR' in os.environ:
            return os.environ['SALIWEB_TESTDIR']
        module = sys.modules.get(type(self).__module__)
        source = getattr(module, '__file__', None) or inspect.getfile(type(self))
        return os.path.dirname(os.path.abspath(source))
