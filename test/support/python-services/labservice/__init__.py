"""labservice: a saliweb backend written as labs write them (for saliflow's tests).

What a job does is chosen by the file mode.txt its submitter writes:
  local       a LocalRunner
  reschedule  a LocalRunner, then one rerun with data from postprocess
  skip        preprocess skips the run
  sge         an SGE array job (-t 1-3) whose script works in a scratch folder
  slurm       a SLURM job
  web         a run on another saliweb service; postprocess downloads its results
  fail-post   postprocess raises SanityError
Every job counts its *.pdb inputs into the extra column num_inputs.
"""

import glob
import logging
import os

import saliweb.backend


class Config(saliweb.backend.Config):
    def populate(self, config):
        saliweb.backend.Config.populate(self, config)
        # The service's own section.
        self.greeting = config.get('labservice', 'greeting')
        self.remote_url = config.get('labservice', 'remote_url', fallback=None)
        self.sleep = config.get('labservice', 'sleep', fallback='0')


def _mode():
    with open('mode.txt') as fh:
        return fh.read().strip()


def _append(name, line):
    with open(name, 'a') as fh:
        fh.write(line + '\n')


class Job(saliweb.backend.Job):
    runnercls = saliweb.backend.SGERunner

    def preprocess(self):
        self.logger.setLevel(logging.INFO)
        pdbs = glob.glob('*.pdb')
        self._metadata['num_inputs'] = len(pdbs)
        self.logger.info('%s: %d inputs' % (self.config.greeting, len(pdbs)))
        _append('preprocess.count', self.name)
        if _mode() == 'skip':
            self.skip_run()

    def run(self):
        mode = _mode()
        _append('run.count', mode)
        if mode in ('local', 'reschedule'):
            return saliweb.backend.LocalRunner(['sh', '-c', 'echo round 1 > output.txt'])
        if mode == 'sge':
            script = """
JOBDIR=`pwd`
sleep %s
SCRATCH=`mktemp -d`
cd $SCRATCH
echo "task $SGE_TASK_ID in scratch" > out.$SGE_TASK_ID
cp out.$SGE_TASK_ID $JOBDIR/
echo "$SGE_TASK_ID" >> $JOBDIR/runs.txt
rm -rf $SCRATCH
""" % self.config.sleep
            runner = self.runnercls(script)
            runner.set_sge_options('-t 1-3 -l h_rt=0:10:00')
            runner.set_sge_name('py-' + self.name)
            return runner
        if mode == 'slurm':
            runner = saliweb.backend.SLURMRunner(
                'sleep %s\necho ran >> runs.txt\nhostname > host.txt\n' % self.config.sleep)
            runner.set_options('--time=10')
            runner.set_name('py-' + self.name)
            return runner
        if mode == 'web':
            return saliweb.backend.SaliWebServiceRunner(
                self.config.remote_url.rstrip('/') + '/job', ['name=alpha', 'input=@in.txt'])
        return saliweb.backend.DoNothingRunner()

    def rerun(self, data):
        _append('run.count', 'rerun %r' % (data,))
        return saliweb.backend.LocalRunner('echo round %d > output.txt' % data['round'])

    def postprocess(self, results=None):
        mode = _mode()
        if mode == 'fail-post':
            raise saliweb.backend.SanityError('the output of %s makes no sense' % self.name)
        if mode == 'reschedule' and not os.path.exists('rescheduled'):
            open('rescheduled', 'w').close()
            self.reschedule_run({'round': 2})
        if results is not None:
            for result in results:
                result.download()
            _append('downloaded.txt', ' '.join(sorted(r.get_filename() for r in results)))

    def complete(self):
        self.logger.warning('complete: %s' % ', '.join(sorted(os.listdir('.'))))
        self.config.send_admin_email('labservice: %s done' % self.name, 'mode %s' % _mode())

    def send_job_completed_email(self):
        self.send_user_email('labservice job %s is ready' % self.name, 'See %s' % self.url)


def get_web_service(config_file):
    db = saliweb.backend.Database(Job)
    db.add_field(saliweb.backend.MySQLField('num_inputs', 'INTEGER', index=True))
    config = Config(config_file)
    return saliweb.backend.WebService(config, db)
