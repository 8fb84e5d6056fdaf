"""saliweb.backend for services run by saliflow.

The classes a saliweb service subclasses or returns (Job, Config, Database,
WebService, the runners, the exceptions), with saliweb's behaviour, but no
MySQL, no daemon and no cluster access of their own: saliflow's worker runs
each step in a fresh interpreter (saliflow_bridge.py) in the job directory,
builds the Job from the row it read, and carries out what the step asked for
(the runner it returned, skip_run, reschedule_run, mails, metadata changes).

Standard library only; Python 3.8 or later.
"""

import configparser
import datetime
import email.message
import logging
import os
import re
import urllib.request

__all__ = [
    'Job', 'Config', 'Database', 'MySQLField', 'WebService',
    'Runner', 'SGERunner', 'WyntonSGERunner', 'WyntonAGERunner', 'SaliSGERunner',
    'SLURMRunner', 'LocalRunner', 'DoNothingRunner', 'SaliWebServiceRunner',
    'SanityError', 'InvalidStateError', 'RunnerError', 'ConfigError', 'StateFileError',
]


class SanityError(Exception):
    """A problem with the job's inputs or state that the frontend should have caught."""


class InvalidStateError(Exception):
    """An operation asked for in a job state that does not allow it."""


class RunnerError(Exception):
    """A runner could not be set up or run."""


class ConfigError(Exception):
    """A bad configuration file."""


class StateFileError(Exception):
    """The backend's state file says the backend cannot run."""


# Mails the service asked for during a step, sent by saliflow's worker once
# the step returns (saliflow_bridge.py hands them over). Each is a dict
# with kind 'user' | 'admin' | 'to', to, subject, body.
_outbox = []


def _mail_text(body):
    """A MIME message's text (its text/plain part), or the text itself."""
    if isinstance(body, email.message.Message):
        part = body
        if body.is_multipart():
            part = next((p for p in body.walk() if p.get_content_type() == 'text/plain'), None)
            if part is None:
                raise ValueError('send_email: a multipart message needs a text/plain part')
        payload = part.get_payload(decode=True)
        if payload is None:
            return str(part.get_payload())
        return payload.decode(part.get_content_charset() or 'utf-8', 'replace')
    return str(body)


# The parser Config reads with; saliflow_bridge.py swaps in one that notes
# which sections and keys the service reads (its own config sections).
_config_parser_class = configparser.ConfigParser

_STATES = ('INCOMING', 'PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'FINALIZING',
           'COMPLETED', 'ARCHIVED', 'FAILED')
# saliweb: each state's directory defaults to the previous state's.
_DIRECTORY_DEFAULTS = (('RUNNING', 'PREPROCESSING'), ('POSTPROCESSING', 'RUNNING'),
                       ('FINALIZING', 'POSTPROCESSING'), ('COMPLETED', 'FINALIZING'),
                       ('ARCHIVED', 'COMPLETED'), ('FAILED', 'COMPLETED'))

_PERIOD_UNITS = {'h': 1. / 24., 'd': 1., 'w': 7., 'm': 30., 'y': 365.}


def _parse_period(key, value):
    """saliweb's [oldjobs] periods: NEVER, or a number with h, d, w, m (30 days) or y (365 days)."""
    text = value.strip()
    if text.upper() == 'NEVER':
        return None
    match = re.match(r'^(\d+(?:\.\d*)?|\.\d+)\s*([hdwmy])$', text)
    if not match:
        raise ConfigError('[oldjobs] %s: %r is not NEVER or a time such as 24h, 30d, 1w, 3m, 1y'
                          % (key, value))
    return datetime.timedelta(days=float(match.group(1)) * _PERIOD_UNITS[match.group(2)])


class Config(object):
    """A service's configuration file, read with configparser (so %(key)s
    interpolation and [DEFAULT] apply). Subclass it and override populate()
    (calling the base first) to read the service's own section."""

    def __init__(self, config_file):
        if hasattr(config_file, 'read'):
            self._config_dir = os.getcwd()
            fh = config_file
            name = getattr(config_file, 'name', '<config>')
        else:
            self._config_dir = os.path.dirname(os.path.abspath(config_file))
            fh = open(config_file)
            name = config_file
        try:
            config = _config_parser_class()
            config.read_file(fh, source=name)
        finally:
            if fh is not config_file:
                fh.close()
        self.populate(config)

    def _path(self, value):
        """saliweb: relative paths in the config are relative to the config file's folder."""
        return value if os.path.isabs(value) else os.path.join(self._config_dir, value)

    def populate(self, config):
        self.admin_email = config.get('general', 'admin_email')
        self.service_name = config.get('general', 'service_name')
        self.socket = self._path(config.get('general', 'socket', fallback='backend.socket'))
        self.urltop = config.get('general', 'urltop', fallback=None)
        self.github = config.get('general', 'github', fallback=None)
        self.track_hostname = config.getboolean('general', 'track_hostname', fallback=False)
        self.backend = {
            'user': config.get('backend', 'user', fallback=None),
            'state_file': self._path(config.get('backend', 'state_file', fallback='backend.state')),
            'check_minutes': config.getint('backend', 'check_minutes', fallback=10),
        }
        self.database = {
            'db': config.get('database', 'db'),
            'socket': config.get('database', 'socket', fallback='/var/lib/mysql/mysql.sock'),
        }
        for end in ('frontend_config', 'backend_config'):
            value = config.get('database', end, fallback=None)
            if value is not None:
                self.database[end] = self._path(value)
        self.limits = {'running': config.getint('limits', 'running', fallback=5)}
        if config.has_option('limits', 'concurrent_tasks'):
            self.limits['concurrent_tasks'] = config.getint('limits', 'concurrent_tasks')
        self.directories = {}
        for state in ('INCOMING', 'PREPROCESSING'):
            self.directories[state] = self._path(config.get('directories', state.lower()))
        for state, previous in _DIRECTORY_DEFAULTS:
            value = config.get('directories', state.lower(), fallback=None)
            self.directories[state] = self._path(value) if value else self.directories[previous]
        if config.has_option('directories', 'install'):
            self.directories['install'] = self._path(config.get('directories', 'install'))
        self.oldjobs = {
            'archive': _parse_period('archive', config.get('oldjobs', 'archive', fallback='NEVER')),
            'expire': _parse_period('expire', config.get('oldjobs', 'expire', fallback='NEVER')),
        }
        archive, expire = self.oldjobs['archive'], self.oldjobs['expire']
        if archive is None and expire is not None or (
                archive is not None and expire is not None and archive > expire):
            raise ConfigError('[oldjobs] archive time must not be longer than expire time')

    def send_admin_email(self, subject, body):
        """E-mails the service's admin (from admin_email)."""
        self.send_email(self.admin_email, subject, body, _kind='admin')

    def send_email(self, to, subject, body, _kind='to'):
        """E-mails `to` (an address or a list of them) from admin_email; body is text or a MIME message."""
        addresses = [to] if isinstance(to, str) else list(to)
        _outbox.append({'kind': _kind, 'to': addresses, 'subject': str(subject),
                        'body': _mail_text(body)})


class MySQLField(object):
    """One of the service's own columns of the jobs table."""

    def __init__(self, name, sqltype, null='YES', key='', default=None, index=False):
        self.name = name
        self.sqltype = sqltype
        self.null = null
        self.key = key
        self.default = default
        self.index = index

    def get_schema(self):
        schema = '%s %s' % (self.name, self.sqltype)
        if self.null == 'NO':
            schema += ' NOT NULL'
        if self.default is not None:
            schema += ' DEFAULT %r' % (self.default,)
        return schema


class Database(object):
    """The jobs table's description: saliflow creates and reads the table itself,
    so this only records the job class and the service's own fields."""

    def __init__(self, jobcls):
        self._jobcls = jobcls
        self._fields = []
        self.track_hostname = False
        self.config = None

    def set_track_hostname(self):
        self.track_hostname = True

    def add_field(self, field):
        if not isinstance(field, MySQLField):
            raise TypeError('add_field takes a MySQLField, not %r' % (field,))
        self._fields.append(field)


class WebService(object):
    """What get_web_service(config_file) returns: the service's config and database."""

    def __init__(self, config, db):
        self.config = config
        self.db = db
        db.config = config


class Runner(object):
    """Something a job's run() returns. Created in the job directory, which it remembers."""
    _runner_name = None

    def __init__(self):
        self._directory = os.getcwd()


class _ScriptRunner(Runner):
    def __init__(self, script, interpreter='/bin/sh'):
        Runner.__init__(self)
        self._script = script
        self._interpreter = interpreter
        self._opts = ''
        self._name = None

    def set_options(self, opts):
        self._opts = opts

    def set_name(self, name):
        self._name = name


class SGERunner(_ScriptRunner):
    """A script run on the SGE cluster saliflow's [sge] section names."""
    _runner_name = 'qb3sge'
    _cell = None
    _root = None
    _qmaster_port = None

    def set_sge_options(self, opts):
        self.set_options(opts)

    def set_name(self, name):
        # saliweb: SGE names lose white space; a leading digit or NONE/ALL/TEMPLATE gets a J.
        name = re.sub(r'\s', '', name)
        if name[:1].isdigit() or name in ('NONE', 'ALL', 'TEMPLATE'):
            name = 'J' + name
        self._name = name

    def set_sge_name(self, name):
        self.set_name(name)


class SaliSGERunner(SGERunner):
    _runner_name = 'salisge'


class WyntonSGERunner(SGERunner):
    _runner_name = 'wyntonsge'
    _cell = 'wynton'
    _root = '/opt/sge'


class WyntonAGERunner(SGERunner):
    _runner_name = 'wyntonage'
    _cell = 'wynton'
    _root = '/opt/age'
    _qmaster_port = 26444


class SLURMRunner(_ScriptRunner):
    """A script run on the SLURM cluster saliflow's [slurm] section names."""
    _runner_name = 'slurm'


class LocalRunner(Runner):
    """A command (argv list or shell string) run on the backend host in the job directory."""
    _runner_name = 'local'

    def __init__(self, cmd):
        Runner.__init__(self)
        self._cmd = cmd


class DoNothingRunner(Runner):
    """Runs nothing; the job goes on to postprocessing at once."""
    _runner_name = 'donothing'


class SaliWebServiceRunner(Runner):
    """A run on another saliweb service: posts `args` (curl-style 'name=value' or
    'name=@file') to `url`, its .../job URL."""
    _runner_name = 'saliwebservice'

    def __init__(self, url, args):
        Runner.__init__(self)
        self._url = url
        self._args = list(args)


class _WebServiceResult(object):
    """A result file of a web-service run, as postprocess(results) receives it."""

    def __init__(self, url, filename):
        self.url = url
        self._filename = filename

    def get_filename(self):
        return self._filename

    def download(self, fh=None):
        """Writes the file to `fh`, or to get_filename() in the working directory."""
        with urllib.request.urlopen(self.url) as response:
            data = response.read()
        if fh is None:
            with open(self.get_filename(), 'wb') as out:
                out.write(data)
        elif hasattr(fh, 'buffer'):
            fh.buffer.write(data)
        elif 'b' in getattr(fh, 'mode', 'b'):
            fh.write(data)
        else:
            fh.write(data.decode('utf-8'))


class Job(object):
    """One job of the service; saliflow builds one per step from the job's row."""
    runnercls = None
    _runners = {}

    def __init__(self, db, jobdict, config):
        self._db = db
        self._metadata = dict(jobdict)
        self._config = config
        self._state = jobdict.get('state')
        self._logger = None
        self._skip_run = False
        self._reschedule = None

    @classmethod
    def register_runner_class(cls, runnercls):
        """Makes a site's Runner subclass known (its _runner_name must be unique)."""
        name = runnercls._runner_name
        if not name:
            raise TypeError('%s needs a _runner_name' % runnercls.__name__)
        known = Job._runners.get(name)
        if known is not None and known is not runnercls:
            raise TypeError('Two runner classes have the same _runner_name %r: %s and %s'
                            % (name, known.__name__, runnercls.__name__))
        Job._runners[name] = runnercls

    name = property(lambda self: self._metadata['name'], doc='The job name')
    url = property(lambda self: self._metadata['url'], doc='The results URL')
    directory = property(lambda self: self._metadata['directory'], doc='The job directory')
    service_name = property(lambda self: self._config.service_name, doc="The service's name")
    config = property(lambda self: self._config, doc="The service's Config object")

    def get_log_handler(self):
        """The handler self.logger writes to: framework.log in the job directory, created on the first message."""
        handler = logging.FileHandler(os.path.join(self.directory, 'framework.log'), delay=True)
        handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(message)s'))
        return handler

    def _get_logger(self):
        if self._logger is None:
            # Not from logging.getLogger: two jobs (in a test) never share handlers.
            # saliweb: threshold WARNING unless the service sets a level.
            logger = logging.Logger('saliweb.job.%s' % self.name, logging.WARNING)
            logger.addHandler(self.get_log_handler())
            self._logger = logger
        return self._logger
    logger = property(_get_logger, doc='A logger writing framework.log in the job directory')

    def _close_logger(self):
        if self._logger is not None:
            for handler in list(self._logger.handlers):
                handler.close()
                self._logger.removeHandler(handler)
            self._logger = None

    def _run_in_job_directory(self, method, *args):
        """Calls method(*args) with the job directory as the working directory."""
        cwd = os.getcwd()
        os.chdir(self.directory)
        try:
            return method(*args)
        finally:
            os.chdir(cwd)

    def skip_run(self):
        """Declares that no run is needed: the job goes straight to COMPLETED (preprocess only)."""
        if self._state != 'PREPROCESSING':
            raise InvalidStateError('skip_run() can only be called in the PREPROCESSING state, not %s'
                                    % self._state)
        self._skip_run = True

    def reschedule_run(self, data=None):
        """Asks for another run, passing data to rerun(data) (postprocess only)."""
        if self._state != 'POSTPROCESSING':
            raise InvalidStateError('reschedule_run() can only be called in the POSTPROCESSING state, not %s'
                                    % self._state)
        self._reschedule = {'data': data}

    def send_user_email(self, subject, body):
        """E-mails the job's user, if they gave an address."""
        if self._metadata.get('contact_email'):
            self._config.send_email(self._metadata['contact_email'], subject, body, _kind='user')

    def send_job_completed_email(self):
        """The "job complete" e-mail to the user."""
        if self._metadata.get('contact_email'):
            self.send_user_email(
                'Sali lab %s service: Job %s complete' % (self.service_name, self.name),
                'Dear %s,\n\nYour job %s has finished.\n\nResults can be found at %s\n'
                % (self._metadata.get('user') or 'user', self.name, self.url))

    def preprocess(self):
        pass

    def run(self):
        raise NotImplementedError('%s.run() must return a runner' % type(self).__name__)

    def rerun(self, data):
        return self.run()

    def postprocess(self, results=None):
        pass

    def finalize(self):
        pass

    def complete(self):
        pass

    def archive(self):
        pass

    def expire(self):
        pass
