-- 060: catalog_matches.confident, so that no query pastes the "we would bet on it" threshold. The
-- threshold has one home, warehouse/matching.py BET; reconciliation writes the flag with every match.
-- Existing rows take the threshold BET had when this migration was written (0.8); the next
-- reconciliation rewrites them all.
ALTER TABLE catalog_matches ADD COLUMN confident BOOLEAN;
UPDATE catalog_matches SET confident = confidence >= 0.8;
COMMENT ON COLUMN catalog_matches.confident IS 'confidence >= warehouse.matching.BET: a match we would bet on; the only matches reports and reconciliation use.';
