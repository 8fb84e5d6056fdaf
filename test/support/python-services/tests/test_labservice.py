"""labservice's own backend tests, written against saliweb.test as a lab's are."""

import io
import os
import unittest

import saliweb.backend
import saliweb.test

import labservice


class JobTests(saliweb.test.TestCase):
    def test_preprocess_counts_inputs(self):
        j = self.make_test_job(labservice.Job, 'PREPROCESSING')
        j.config.greeting = 'hello'
        with saliweb.test.working_directory(j.directory):
            for name in ('a.pdb', 'b.pdb'):
                open(name, 'w').close()
            with open('mode.txt', 'w') as fh:
                fh.write('local\n')
            j.preprocess()
        self.assertEqual(j._metadata['num_inputs'], 2)
        self.assertFalse(j._skip_run)
        with open(os.path.join(j.directory, 'framework.log')) as fh:
            self.assertIn('INFO hello: 2 inputs', fh.read())

    def test_skip(self):
        j = self.make_test_job(labservice.Job, 'PREPROCESSING')
        j.config.greeting = 'hi'
        with open(os.path.join(j.directory, 'mode.txt'), 'w') as fh:
            fh.write('skip\n')
        j._run_in_job_directory(j.preprocess)
        self.assertTrue(j._skip_run)

    def test_skip_run_only_in_preprocessing(self):
        j = self.make_test_job(labservice.Job, 'RUNNING')
        self.assertRaises(saliweb.backend.InvalidStateError, j.skip_run)

    def test_run_sge_array(self):
        j = self.make_test_job(labservice.Job, 'RUNNING')
        j.config.sleep = '0'
        with saliweb.test.working_directory(j.directory):
            with open('mode.txt', 'w') as fh:
                fh.write('sge\n')
            runner = j.run()
        self.assertIsInstance(runner, saliweb.backend.SGERunner)
        self.assertEqual(runner._opts, '-t 1-3 -l h_rt=0:10:00')
        self.assertEqual(runner._name, 'py-testjob')
        self.assertEqual(os.path.realpath(runner._directory), os.path.realpath(j.directory))

    def test_postprocess_reschedules_once(self):
        j = self.make_test_job(labservice.Job, 'POSTPROCESSING')
        with saliweb.test.working_directory(j.directory):
            with open('mode.txt', 'w') as fh:
                fh.write('reschedule\n')
            j.postprocess()
            self.assertEqual(j._reschedule, {'data': {'round': 2}})
            j._reschedule = None
            j.postprocess()
            self.assertIsNone(j._reschedule)

    def test_postprocess_raises(self):
        j = self.make_test_job(labservice.Job, 'POSTPROCESSING')
        with saliweb.test.working_directory(j.directory):
            with open('mode.txt', 'w') as fh:
                fh.write('fail-post\n')
            self.assertRaises(saliweb.backend.SanityError, j.postprocess)

    def test_test_directory(self):
        self.assertTrue(os.path.exists(os.path.join(self.get_test_directory(), 'test_labservice.py')))

    def test_temporary_working_directory(self):
        with saliweb.test.temporary_working_directory() as tmp:
            self.assertEqual(os.path.realpath(os.getcwd()), os.path.realpath(tmp))
        self.assertFalse(os.path.exists(tmp))


class ConfigTests(unittest.TestCase):
    def test_own_section(self):
        text = ('[general]\nadmin_email: a@b.c\nservice_name: Lab\nsocket: s\n'
                '[database]\ndb: labdb\n[directories]\nincoming: /in\npreprocessing: %(base)s/pre\n'
                '[DEFAULT]\nbase: /srv\n[oldjobs]\narchive: 1w\nexpire: 1y\n'
                '[labservice]\ngreeting: hi %%s\n')
        config = labservice.Config(io.StringIO(text))
        self.assertEqual(config.greeting, 'hi %s')
        self.assertEqual(config.directories['COMPLETED'], '/srv/pre')
        self.assertEqual(config.oldjobs['archive'].days, 7)


if __name__ == '__main__':
    unittest.main()
