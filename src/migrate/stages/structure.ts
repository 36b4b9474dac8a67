import { diffStructure } from '../../checks/structure.js';
import type { MigrateContext, Snapshot } from '../context.js';

/** The structure stage: the catalog objects the migration added, removed or changed. */
export async function structureStage(
  ctx: MigrateContext,
  before: Snapshot,
  after: Snapshot | undefined,
): Promise<void> {
  if (!after) {
    ctx.pipe.skip('structure', 'the database could not be read after the migration');
    return;
  }
  const now = after;
  await ctx.pipe.stage('structure', async () => {
    const { missing, unexpected } = diffStructure(before.structure, now.structure);
    ctx.result.schemaDiff = { added: unexpected, removed: missing };
    ctx.log.info(
      `structure: ${unexpected.length} object(s) added or changed, ${missing.length} removed or changed`,
    );
    return {};
  });
}
