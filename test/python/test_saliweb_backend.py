"""saliflow's saliweb.backend and saliweb.test, as services and their tests use them."""

import io
import os
import unittest

import saliweb.backend
import saliweb.test

CONFIG = ('[general]\nadmin_email: admin@example.org\nservice_name: Test\nsocket: backend.socket\n'
          '[backend]\nuser: x\nstate_file: state\ncheck_minutes: 5\n'
          '[database]\ndb: testdb\nbackend_config: back.conf\n'
          '[directories]\nincoming: in\npreprocessing: pre\nfailed: fail\n'
          '[oldjobs]\narchive: 30d\nexpire: NEVER\n')


class MyJob(saliweb.backend.Job):
    def run(self):
        return saliweb.backend.LocalRunner('true')


class BackendTests(saliweb.test.TestCase):
    def test_config(self):
        with saliweb.test.temporary_working_directory() as tmp:
            with open('s.conf', 'w') as fh:
                fh.write(CONFIG)
            config = saliweb.backend.Config('s.conf')
        self.assertEqual(config.admin_email, 'admin@example.org')
        self.assertEqual(config.directories['RUNNING'], os.path.join(tmp, 'pre'))
        self.assertEqual(config.directories['FAILED'], os.path.join(tmp, 'fail'))
        self.assertEqual(config.database['backend_config'], os.path.join(tmp, 'back.conf'))
        self.assertEqual(config.oldjobs['archive'].days, 30)
        self.assertIsNone(config.oldjobs['expire'])
        self.assertEqual(config.limits['running'], 5)

    def test_archive_longer_than_expire(self):
        bad = CONFIG.replace('expire: NEVER', 'expire: 1d')
        self.assertRaises(saliweb.backend.ConfigError, saliweb.backend.Config, io.StringIO(bad))

    def test_sge_names(self):
        runner = saliweb.backend.WyntonSGERunner('echo hi')
        runner.set_sge_name('1 job')
        self.assertEqual(runner._name, 'J1job')
        runner.set_sge_name('ALL')
        self.assertEqual(runner._name, 'JALL')
        self.assertEqual(saliweb.backend.WyntonAGERunner._qmaster_port, 26444)

    def test_states_of_helpers(self):
        job = self.make_test_job(MyJob, 'RUNNING')
        self.assertRaises(saliweb.backend.InvalidStateError, job.skip_run)
        self.assertRaises(saliweb.backend.InvalidStateError, job.reschedule_run)
        post = self.make_test_job(MyJob, 'POSTPROCESSING')
        post.reschedule_run('again')
        self.assertEqual(post._reschedule, {'data': 'again'})

    def test_test_job(self):
        job = self.make_test_job(MyJob, 'RUNNING')
        self.assertEqual(job.name, 'testjob')
        self.assertEqual(job.url, 'http://server/test/path/testjob?passwd=abc')
        self.assertTrue(os.path.isdir(job.directory))
        self.assertEqual(job.config.admin_email, 'testadmin@salilab.org')
        runner = job._run_in_job_directory(job.run)
        self.assertEqual(os.path.realpath(runner._directory), os.path.realpath(job.directory))

    def test_logger_threshold_warning(self):
        job = self.make_test_job(MyJob, 'RUNNING')
        job.logger.info('dropped')
        self.assertFalse(os.path.exists(os.path.join(job.directory, 'framework.log')))
        job.logger.warning('kept')
        job._close_logger()
        with open(os.path.join(job.directory, 'framework.log')) as fh:
            self.assertRegex(fh.read(), r'^\d{4}-\d\d-\d\d [\d:,]+ WARNING kept\n$')

    def test_mails_queued_for_saliflow(self):
        job = self.make_test_job(MyJob, 'COMPLETED')
        del saliweb.backend._outbox[:]
        job.send_user_email('s', 'b')  # no contact_email: nothing
        job._metadata['contact_email'] = 'user@example.org'
        job.send_job_completed_email()
        job.config.send_admin_email('a', 'b')
        self.assertEqual([(m['kind'], m['to']) for m in saliweb.backend._outbox],
                         [('user', ['user@example.org']), ('admin', ['testadmin@salilab.org'])])

    def test_register_runner_class(self):
        class SiteRunner(saliweb.backend.SGERunner):
            _runner_name = 'sitesge'

        class Clash(saliweb.backend.SGERunner):
            _runner_name = 'sitesge'
        saliweb.backend.Job.register_runner_class(SiteRunner)
        self.assertRaises(TypeError, saliweb.backend.Job.register_runner_class, Clash)


if __name__ == '__main__':
    unittest.main()
