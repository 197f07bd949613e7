-- Each conversation counts changes to its member list (issue 17); see the
-- SQLite file of this number for why. One row trigger function here.
ALTER TABLE conversations ADD COLUMN member_version BIGINT NOT NULL DEFAULT 0;
CREATE FUNCTION members_version() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' THEN UPDATE conversations SET member_version = member_version + 1 WHERE id = OLD.conv_id; ELSE UPDATE conversations SET member_version = member_version + 1 WHERE id = NEW.conv_id; END IF; RETURN NULL; END $$;
CREATE TRIGGER members_version AFTER INSERT OR DELETE OR UPDATE OF role, joined_seq ON members FOR EACH ROW EXECUTE FUNCTION members_version();
