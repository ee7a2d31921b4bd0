"""eSIM records, moved here from the esims app: the table keeps its name and its rows
(state-only CreateModel); the content type is renamed so permissions carry over."""

import django.db.models.deletion
from django.db import migrations, models

from ttelgo.migration_ops import content_types_move


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0007_order_provider_order_sent_at"),
        ("esims", "0003_esim_moves_to_orders"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Esim',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('iccid', models.CharField(max_length=22, unique=True)),
                        ('bundle_code', models.CharField(help_text='the latest bundle applied', max_length=100)),
                        ('smdp_address', models.CharField(max_length=255)),
                        ('matching_id', models.CharField(max_length=255)),
                        ('status', models.CharField(choices=[('released', 'Released'), ('installed', 'Installed'), ('active', 'Active'), ('depleted', 'Depleted'), ('expired', 'Expired'), ('revoked', 'Revoked')], default='released', max_length=16)),
                        ('initial_mb', models.PositiveIntegerField(default=0)),
                        ('remaining_mb', models.PositiveIntegerField(default=0)),
                        ('unlimited', models.BooleanField(default=False)),
                        ('usage_state', models.CharField(blank=True, max_length=16)),
                        ('usage_updated_at', models.DateTimeField(blank=True, null=True)),
                        ('usage_alerted_percent', models.PositiveSmallIntegerField(default=0)),
                        ('expires_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('order', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='esims', to='orders.order')),
                    ],
                    options={
                        'db_table': 'esims_esim',
                        'ordering': ('-created_at', '-id'),
                        'indexes': [models.Index(fields=['order', 'id'], name='esim_order_id')],
                        'constraints': [models.CheckConstraint(condition=models.Q(('usage_alerted_percent__in', [0, 80, 100])), name='esim_usage_alerted_percent_valid')],
                    },
                ),
            ],
        ),
        content_types_move(models=["esim"], from_app="esims", to_app="orders"),
    ]
