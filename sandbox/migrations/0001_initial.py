"""The simulators' tables, moved here from esims and payments: they keep their names and
rows (state-only CreateModel); the content types follow."""

import django.db.models.deletion
from django.db import migrations, models

from ttelgo.migration_ops import content_types_move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("esims", "0004_sandbox_moves_out"),
        ("payments", "0004_sandbox_moves_out"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='SandboxOrder',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('reference', models.CharField(help_text='provider-side id', max_length=40, unique=True)),
                        ('client_reference', models.CharField(db_index=True, max_length=100)),
                        ('bundle_code', models.CharField(max_length=100)),
                        ('quantity', models.PositiveIntegerField()),
                        ('cost_amount', models.BigIntegerField()),
                        ('currency', models.CharField(max_length=3)),
                        ('kind', models.CharField(default='order', max_length=10)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('ready_at', models.DateTimeField(help_text="when a 'processing' order completes")),
                    ],
                    options={
                        'db_table': 'esims_sandboxorder',
                        'ordering': ('id',),
                    },
                ),
                migrations.CreateModel(
                    name='SandboxPaymentIntent',
                    fields=[
                        ('id', models.CharField(max_length=64, primary_key=True, serialize=False)),
                        ('idempotency_key', models.CharField(max_length=255, unique=True)),
                        ('amount', models.BigIntegerField()),
                        ('currency', models.CharField(max_length=3)),
                        ('status', models.CharField(default='requires_payment_method', max_length=32)),
                        ('client_secret', models.CharField(max_length=255)),
                        ('metadata', models.JSONField(default=dict)),
                        ('latest_charge', models.CharField(blank=True, max_length=64)),
                        ('last_payment_error', models.JSONField(blank=True, null=True)),
                        ('created', models.BigIntegerField(help_text='unix seconds, as Stripe reports it')),
                    ],
                    options={
                        'db_table': 'payments_sandboxpaymentintent',
                        'ordering': ('-created',),
                    },
                ),
                migrations.CreateModel(
                    name='SandboxEsim',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('iccid', models.CharField(max_length=19, unique=True)),
                        ('matching_id', models.CharField(max_length=40)),
                        ('smdp_address', models.CharField(max_length=100)),
                        ('customer_ref', models.CharField(blank=True, max_length=100)),
                        ('order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='esims', to='sandbox.sandboxorder')),
                    ],
                    options={
                        'db_table': 'esims_sandboxesim',
                        'ordering': ('id',),
                    },
                ),
                migrations.CreateModel(
                    name='SandboxBundleAssignment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('bundle_code', models.CharField(max_length=100)),
                        ('initial_bytes', models.BigIntegerField()),
                        ('unlimited', models.BooleanField(default=False)),
                        ('validity_days', models.PositiveIntegerField()),
                        ('assigned_at', models.DateTimeField()),
                        ('revoked', models.BooleanField(default=False)),
                        ('esim', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='assignments', to='sandbox.sandboxesim')),
                        ('order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='assignments', to='sandbox.sandboxorder')),
                    ],
                    options={
                        'db_table': 'esims_sandboxbundleassignment',
                        'ordering': ('id',),
                    },
                ),
                migrations.CreateModel(
                    name='SandboxRefund',
                    fields=[
                        ('id', models.CharField(max_length=64, primary_key=True, serialize=False)),
                        ('idempotency_key', models.CharField(max_length=255, unique=True)),
                        ('amount', models.BigIntegerField()),
                        ('currency', models.CharField(max_length=3)),
                        ('reason', models.CharField(blank=True, max_length=64)),
                        ('metadata', models.JSONField(default=dict)),
                        ('created', models.BigIntegerField()),
                        ('payment_intent', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='refunds', to='sandbox.sandboxpaymentintent')),
                    ],
                    options={
                        'db_table': 'payments_sandboxrefund',
                        'ordering': ('created', 'id'),
                    },
                ),
            ],
        ),
        content_types_move(
            models=["sandboxorder", "sandboxesim", "sandboxbundleassignment"],
            from_app="esims",
            to_app="sandbox",
        ),
        content_types_move(
            models=["sandboxpaymentintent", "sandboxrefund"],
            from_app="payments",
            to_app="sandbox",
        ),
    ]
