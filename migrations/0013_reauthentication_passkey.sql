-- Step-up with a passkey (issue 15): Reauthenticate accepts a passkey assertion, to a challenge
-- that StartReauthenticationPasskey opened for the calling session. Forward-only: never edit a
-- migration that has been applied.

-- The session a reauthentication challenge belongs to; only an assertion presented with that
-- session's access token may use it. Gone with the session.
ALTER TABLE webauthn_challenges
  ADD COLUMN session_id uuid REFERENCES sessions (id) ON DELETE CASCADE;

ALTER TABLE webauthn_challenges DROP CONSTRAINT webauthn_challenges_purpose_check;
ALTER TABLE webauthn_challenges
  ADD CONSTRAINT webauthn_challenges_purpose_check
    CHECK (purpose IN ('registration', 'login', 'second_factor', 'reauthentication')),
  ADD CONSTRAINT webauthn_challenges_session_check
    CHECK ((purpose = 'reauthentication') = (session_id IS NOT NULL)),
  ADD CONSTRAINT webauthn_challenges_reauthentication_user_check
    CHECK (purpose <> 'reauthentication' OR user_id IS NOT NULL);

CREATE INDEX webauthn_challenges_session_id_idx ON webauthn_challenges (session_id)
  WHERE session_id IS NOT NULL;
