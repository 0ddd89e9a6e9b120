"""``kaiten users``: who may use the console once its sign-in is configured."""

from __future__ import annotations

import argparse

import kaiten_analytics as ka


def add_parser(commands: argparse._SubParsersAction, url_parent: argparse.ArgumentParser
               ) -> None:
    """Add ``kaiten users add|list|remove`` to the ``kaiten`` command's subcommands."""
    users = commands.add_parser(
        "users", help="console users and their roles (admin, viewer)",
        description="Who may use the console when sign-in is configured: an admin sees and "
                    "changes everything, a viewer sees every page and changes nothing, and "
                    "any other signed-in email gets a 'no access' page.")
    user_commands = users.add_subparsers(dest="users_command", required=True)
    add = user_commands.add_parser("add", parents=[url_parent],
                                   help="give EMAIL a role (or change the role it has)")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=ka.CONSOLE_ROLES)
    user_commands.add_parser("list", parents=[url_parent], help="list console users")
    remove = user_commands.add_parser("remove", parents=[url_parent],
                                      help="take EMAIL's console access away")
    remove.add_argument("email")


def run(args: argparse.Namespace, kaiten: ka.Kaiten) -> int:
    """Run one ``kaiten users`` subcommand; library errors propagate to ``kaiten``'s handler."""
    if args.users_command == "add":
        user = kaiten.users.add(args.email, args.role)
        print(f"{user.email} is a console {user.role}")
    elif args.users_command == "remove":
        kaiten.users.remove(args.email)
        print(f"{args.email.strip().lower()} has no console access any more")
    else:
        listed = kaiten.users.list()
        if listed.empty:
            print("no console users yet: kaiten users add EMAIL --role admin")
        for row in listed.itertuples():
            print(f"{row.email}\t{row.role}\tsince {row.created_at:%Y-%m-%d}")
    return 0
