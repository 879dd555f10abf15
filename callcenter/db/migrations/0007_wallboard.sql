-- The team leader's live wallboard (issue 5): who may open it. Team leaders see their team(s); supervisors and
-- administrators choose a team or all.
INSERT INTO role_permissions (role, permission) VALUES
    ('team_leader', 'wallboard.view'),
    ('supervisor', 'wallboard.view'),
    ('admin', 'wallboard.view');
