/**
 * ModFoo: a small service in the style of the Sali lab's ModFoo example.
 * The user uploads PDB files; preprocess counts them into the service's own
 * `num_pdbs` column (and skips the run when there are none); the run counts
 * the ATOM records of each file with a local command (or on SGE/SLURM when
 * configured); postprocess checks the output; archive gzips the inputs.
 */
import fs from 'node:fs/promises';
import { createGzip } from 'node:zlib';
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { defineService, localCommand, type JobContext } from '../../core/index.js';

interface ModFooMetadata {
  [column: string]: string | number | Date | null;
  num_pdbs: number | null;
}

type ModFooJob = JobContext<ModFooMetadata>;

async function pdbFiles(job: ModFooJob): Promise<string[]> {
  return (await fs.readdir(job.directory)).filter((file) => file.toLowerCase().endsWith('.pdb')).sort();
}

// Counts ATOM records per file; a shell loop keeps the example runnable
// anywhere, on a cluster as on the backend host.
const COUNT_ATOMS = 'for f in *.pdb; do printf "%s %s\\n" "$f" "$(grep -c "^ATOM" "$f")"; done > atom-counts.txt';

export default defineService<ModFooMetadata>({
  columns: [{ name: 'num_pdbs', type: 'INTEGER', nullable: true, index: true }],

  async preprocess(job) {
    const files = await pdbFiles(job);
    job.metadata.num_pdbs = files.length;
    job.log.info(`found ${files.length} PDB file(s)`);
    if (files.length === 0) {
      // A bad input is not a failure: explain it in the results and complete.
      await fs.writeFile(job.path('atom-counts.txt'), 'No PDB files were uploaded.\n');
      return { skipRun: true };
    }
    return {};
  },

  run() {
    return localCommand(COUNT_ATOMS);
  },

  async postprocess(job) {
    const counts = await fs.readFile(job.path('atom-counts.txt'), 'utf8');
    const lines = counts.trim().split('\n').filter(Boolean);
    if (lines.length !== job.metadata.num_pdbs) {
      throw new Error(`expected ${job.metadata.num_pdbs} lines in atom-counts.txt, found ${lines.length}`);
    }
    job.log.info(`counted atoms in ${lines.length} file(s)`);
  },

  async archive(job) {
    for (const file of await pdbFiles(job)) {
      await pipeline(createReadStream(job.path(file)), createGzip(), createWriteStream(job.path(`${file}.gz`)));
      await fs.rm(job.path(file));
    }
  },
});
