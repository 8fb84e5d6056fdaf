"""Runs one step of a saliweb Python service for saliflow's worker
(engine/python-service.ts), in a fresh interpreter whose working directory
is the job directory.

Request: one JSON object on stdin. Reply: one JSON object on file
descriptor 3 (the service's own prints go to stdout/stderr untouched).

  {"op": "describe", "module": M, "config_file": F}
      -> {"ok": true, "columns": [...], "steps": [...], "config_sections": {...}, "track_hostname": b}
  {"op": "step", "module": M, "config_file": F, "step": S, "job": {...},
   "state": STATE, "rerun_data": D, "results": [{"url": U, "name": N}] | null}
      -> {"ok": true, "metadata": {changed}, "skip_run": b, "reschedule": {"data": D} | null,
          "runner": {...} | null, "mails": [...]}
  Any exception -> {"ok": false, "exception": "Python exception:\\n<traceback>", "mails": [...]}
"""

import configparser
import datetime
import importlib
import json
import os
import sys
import traceback

import saliweb.backend as backend

STEPS = ('preprocess', 'run', 'rerun', 'postprocess', 'finalize', 'complete', 'archive', 'expire',
         'send_job_completed_email')


def encode(value):
    if isinstance(value, datetime.datetime):
        return {'$date': value.replace(tzinfo=None).isoformat() + 'Z'}
    if isinstance(value, datetime.date):
        return {'$date': value.isoformat() + 'T00:00:00Z'}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return dict((str(k), encode(v)) for k, v in value.items())
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def decode(value):
    if isinstance(value, dict):
        if list(value.keys()) == ['$date']:
            # MySQLdb gives naive datetimes (saliweb stores UTC).
            text = value['$date'].replace('Z', '+00:00')
            return datetime.datetime.fromisoformat(text).astimezone(
                datetime.timezone.utc).replace(tzinfo=None)
        return dict((k, decode(v)) for k, v in value.items())
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value


class TrackingParser(configparser.ConfigParser):
    """Notes which sections and keys the service's Config reads: they are its own config sections."""

    def __init__(self, *args, **kwargs):
        configparser.ConfigParser.__init__(self, *args, **kwargs)
        self.read_keys = {}
        self.whole_sections = set()

    def _note(self, section, option=None):
        if getattr(self, 'paused', False) or not isinstance(section, str) \
                or section == self.default_section:
            return
        keys = self.read_keys.setdefault(section, set())
        if option is not None:
            keys.add(self.optionxform(option))

    def get(self, section, option, **kwargs):
        self._note(section, option)
        return configparser.ConfigParser.get(self, section, option, **kwargs)

    def has_option(self, section, option):
        self._note(section, option)
        return configparser.ConfigParser.has_option(self, section, option)

    def has_section(self, section):
        self._note(section)
        return configparser.ConfigParser.has_section(self, section)

    def options(self, section):
        self._note(section)
        self.whole_sections.add(section)
        return configparser.ConfigParser.options(self, section)

    def items(self, section=configparser._UNSET, **kwargs):
        if section is not configparser._UNSET:
            self._note(section)
            self.whole_sections.add(section)
        return configparser.ConfigParser.items(self, section, **kwargs)

    def __getitem__(self, key):
        self._note(key)
        self.whole_sections.add(key)
        return configparser.ConfigParser.__getitem__(self, key)


def web_service(request):
    module = importlib.import_module(request['module'])
    get = getattr(module, 'get_web_service', None)
    if get is None:
        raise AttributeError('%s has no get_web_service(config_file)' % request['module'])
    service = get(request['config_file'])
    if not isinstance(service, backend.WebService):
        raise TypeError('get_web_service() returned %r, not a saliweb.backend.WebService' % (service,))
    return service


def column_spec(field):
    spec = {'name': field.name, 'type': field.sqltype, 'nullable': field.null != 'NO',
            'index': bool(field.index)}
    if field.default is not None:
        spec['default'] = field.default
    return spec


def describe(request):
    backend._config_parser_class = TrackingParser
    parsers = []
    original_init = TrackingParser.__init__

    def noting_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        parsers.append(self)
    TrackingParser.__init__ = noting_init
    # What the base Config reads is saliweb's, not the service's own.
    base_populate = backend.Config.populate

    def base_only(self, config):
        config.paused = True
        try:
            base_populate(self, config)
        finally:
            config.paused = False
    backend.Config.populate = base_only
    service = web_service(request)
    jobcls = service.db._jobcls
    if not (isinstance(jobcls, type) and issubclass(jobcls, backend.Job)):
        raise TypeError('Database(%r): its job class is not a saliweb.backend.Job subclass' % (jobcls,))
    sections = {}
    for parser in parsers:
        for section, keys in parser.read_keys.items():
            found = sections.setdefault(section, set())
            found.update(keys)
            if section in parser.whole_sections and parser.has_section(section):
                found.update(configparser.ConfigParser.options(parser, section))
    steps = [step for step in STEPS
             if getattr(jobcls, step) is not getattr(backend.Job, step)]
    return {'columns': [column_spec(f) for f in service.db._fields],
            'steps': steps,
            'job_class': '%s.%s' % (jobcls.__module__, jobcls.__name__),
            'track_hostname': service.db.track_hostname,
            'config_sections': dict((s, sorted(k)) for s, k in sections.items())}


def describe_runner(runner, job):
    if runner is None or not isinstance(runner, backend.Runner):
        raise backend.RunnerError('%s.%s() returned %r, not a saliweb.backend runner'
                                  % (type(job).__name__, 'run', runner))
    described = {'class': type(runner).__name__, 'runner_name': runner._runner_name}
    if isinstance(runner, (backend.SGERunner, backend.SLURMRunner)):
        described.update(kind='sge' if isinstance(runner, backend.SGERunner) else 'slurm',
                         script=runner._script, interpreter=runner._interpreter,
                         options=runner._opts or '', name=runner._name)
        if isinstance(runner, backend.SGERunner):
            described.update(cell=runner._cell, root=runner._root, qmaster_port=runner._qmaster_port)
    elif isinstance(runner, backend.LocalRunner):
        cmd = runner._cmd
        described.update(kind='local', command=cmd if isinstance(cmd, str) else [str(c) for c in cmd])
    elif isinstance(runner, backend.DoNothingRunner):
        described.update(kind='do-nothing')
    elif isinstance(runner, backend.SaliWebServiceRunner):
        described.update(kind='web-service', url=runner._url, args=[str(a) for a in runner._args])
    else:
        raise backend.RunnerError('%s is a runner saliflow cannot run: subclass SGERunner, SLURMRunner, '
                                  'LocalRunner, DoNothingRunner or SaliWebServiceRunner'
                                  % type(runner).__name__)
    return described


def step(request):
    service = web_service(request)
    jobcls = service.db._jobcls
    name = request['step']
    if name not in STEPS:
        raise ValueError('unknown step %r' % (name,))
    jobdict = decode(request['job'])
    jobdict['state'] = request['state']
    job = jobcls(service.db, jobdict, service.config)
    job._state = request['state']
    before = dict(job._metadata)
    try:
        if name == 'rerun':
            result = job.rerun(decode(request.get('rerun_data')))
        elif name == 'postprocess' and request.get('results') is not None:
            results = [backend._WebServiceResult(r['url'], r['name']) for r in request['results']]
            result = job.postprocess(results)
        else:
            result = getattr(job, name)()
    finally:
        job._close_logger()
    own = set(f.name for f in service.db._fields)
    changed = dict((k, encode(v)) for k, v in job._metadata.items()
                   if (k in own or k not in before) and (k not in before or before[k] != v))
    return {'metadata': changed,
            'skip_run': bool(job._skip_run),
            'reschedule': encode(job._reschedule) if job._reschedule is not None else None,
            'runner': describe_runner(result, job) if name in ('run', 'rerun') else None}


def main():
    reply_fd = int(os.environ.get('SALIFLOW_BRIDGE_FD', '3'))
    try:
        request = json.loads(sys.stdin.read())
        reply = describe(request) if request['op'] == 'describe' else step(request)
        reply['ok'] = True
    except BaseException:
        # saliweb: the failure text is "Python exception:" and the traceback.
        reply = {'ok': False, 'exception': 'Python exception:\n' + traceback.format_exc()}
    reply['mails'] = backend._outbox
    sys.stdout.flush()
    with os.fdopen(reply_fd, 'w') as out:
        json.dump(reply, out)


if __name__ == '__main__':
    main()
