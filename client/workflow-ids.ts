/** The one place that says how a job's workflow is named. */
export function jobWorkflowId(serviceName: string, job: string): string {
  return `${serviceName}/${job}`;
}
