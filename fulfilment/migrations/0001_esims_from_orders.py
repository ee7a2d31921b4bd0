"""eSIM records, eSIM refunds, provider refunds and auto top-ups, moved here from the
orders app: each table keeps its name and its rows (state-only CreateModel, `db_table`);
the content types are relabelled so permissions carry over."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from ttelgo.migration_ops import content_types_move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ('orders', '0021_esims_move_to_fulfilment'),
        ('vendors', '0011_names_single_line'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='AutoTopupRule',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('bundle_code', models.CharField(max_length=100)),
                        ('below_percent', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('expiry_days', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('monthly_limit', models.PositiveSmallIntegerField(default=3, help_text='top-ups per eSIM and calendar month, at most')),
                        ('active', models.BooleanField(default=True)),
                        ('stripe_customer_id', models.CharField(blank=True, max_length=100)),
                        ('payment_method_id', models.CharField(blank=True, max_length=100)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('customer', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('vendor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='vendors.vendor')),
                    ],
                    options={
                        'db_table': 'orders_autotopuprule',
                        'ordering': ('-created_at', '-id'),
                    },
                ),
                migrations.CreateModel(
                    name='Esim',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('iccid', models.CharField(max_length=22, unique=True)),
                        ('bundle_code', models.CharField(help_text='the latest bundle applied', max_length=100)),
                        ('smdp_address', models.CharField(max_length=255)),
                        ('matching_id', models.CharField(max_length=255)),
                        ('status', models.CharField(choices=[('released', 'Released'), ('installed', 'Installed'), ('active', 'Active'), ('depleted', 'Depleted'), ('expired', 'Expired'), ('revoked', 'Revoked')], default='released', max_length=16)),
                        ('livemode', models.BooleanField(db_default=True, default=True)),
                        ('initial_mb', models.PositiveIntegerField(default=0)),
                        ('remaining_mb', models.PositiveIntegerField(default=0)),
                        ('unlimited', models.BooleanField(default=False)),
                        ('usage_state', models.CharField(blank=True, max_length=16)),
                        ('bundles', models.JSONField(blank=True, default=list)),
                        ('usage_updated_at', models.DateTimeField(blank=True, null=True)),
                        ('events_sent', models.JSONField(blank=True, default=list)),
                        ('expires_at', models.DateTimeField(blank=True, null=True)),
                        ('page_version', models.PositiveIntegerField(default=1)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('order', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='esims', to='orders.order')),
                    ],
                    options={
                        'db_table': 'esims_esim',
                        'ordering': ('-created_at', '-id'),
                    },
                ),
                migrations.CreateModel(
                    name='AutoTopupRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('trigger', models.CharField(max_length=100)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('applied', 'Applied'), ('action_required', 'Action Required'), ('failed', 'Failed'), ('limit_reached', 'Limit Reached')], default='pending', max_length=20)),
                        ('detail', models.CharField(blank=True, max_length=500)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('order', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orders.order')),
                        ('rule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='fulfilment.autotopuprule')),
                        ('esim', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='fulfilment.esim')),
                    ],
                    options={
                        'db_table': 'orders_autotopuprun',
                        'ordering': ('-created_at', '-id'),
                    },
                ),
                migrations.AddField(
                    model_name='autotopuprule',
                    name='esim',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='fulfilment.esim'),
                ),
                migrations.CreateModel(
                    name='EsimRefund',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('amount', models.BigIntegerField(help_text='minor units')),
                        ('currency', models.CharField(max_length=3)),
                        ('reason', models.TextField()),
                        ('status', models.CharField(choices=[('requested', 'Requested'), ('refunding', 'Refunding'), ('refunded', 'Refunded'), ('in_review', 'In Review'), ('rejected', 'Rejected')], default='requested', max_length=16)),
                        ('requested_by', models.CharField(help_text='customer:<id> or vendor:<id>', max_length=100)),
                        ('resolution', models.TextField(blank=True)),
                        ('claimed_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('resolved_at', models.DateTimeField(blank=True, null=True)),
                        ('esim', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='refunds', to='fulfilment.esim')),
                        ('order', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orders.order')),
                    ],
                    options={
                        'db_table': 'orders_esimrefund',
                        'ordering': ('-created_at', '-id'),
                    },
                ),
                migrations.CreateModel(
                    name='ProviderRefund',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('iccid', models.CharField(max_length=22)),
                        ('bundle_code', models.CharField(max_length=100)),
                        ('amount', models.BigIntegerField(help_text='minor units')),
                        ('currency', models.CharField(max_length=3)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('received', 'Received')], default='pending', max_length=16)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('received_at', models.DateTimeField(blank=True, null=True)),
                        ('order', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orders.order')),
                    ],
                    options={
                        'db_table': 'orders_providerrefund',
                        'ordering': ('-created_at', '-id'),
                    },
                ),
                migrations.AddIndex(
                    model_name='esim',
                    index=models.Index(fields=['order', 'id'], name='esim_order_id'),
                ),
                migrations.AddConstraint(
                    model_name='autotopuprun',
                    constraint=models.UniqueConstraint(fields=('esim', 'trigger'), name='auto_topup_once_per_crossing'),
                ),
                migrations.AddConstraint(
                    model_name='autotopuprule',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('customer__isnull', True), ('vendor__isnull', False)), models.Q(('customer__isnull', False), ('esim__isnull', False), ('vendor__isnull', True)), _connector='OR'), name='auto_topup_one_buyer'),
                ),
                migrations.AddConstraint(
                    model_name='autotopuprule',
                    constraint=models.CheckConstraint(condition=models.Q(('below_percent__isnull', False), ('expiry_days__isnull', False), _connector='OR'), name='auto_topup_has_a_trigger'),
                ),
                migrations.AddConstraint(
                    model_name='autotopuprule',
                    constraint=models.CheckConstraint(condition=models.Q(('below_percent__isnull', True), ('below_percent__lte', 99), _connector='OR'), name='auto_topup_percent_lt_100'),
                ),
                migrations.AddConstraint(
                    model_name='autotopuprule',
                    constraint=models.UniqueConstraint(condition=models.Q(('active', True)), fields=('esim',), name='auto_topup_one_per_esim'),
                ),
                migrations.AddConstraint(
                    model_name='autotopuprule',
                    constraint=models.UniqueConstraint(condition=models.Q(('active', True), ('esim__isnull', True)), fields=('vendor',), name='auto_topup_one_default_per_vendor'),
                ),
                migrations.AddConstraint(
                    model_name='esimrefund',
                    constraint=models.UniqueConstraint(condition=models.Q(('status', 'rejected'), _negated=True), fields=('esim',), name='esim_refund_one_live_per_esim'),
                ),
                migrations.AddConstraint(
                    model_name='esimrefund',
                    constraint=models.CheckConstraint(condition=models.Q(('amount__gte', 0)), name='esim_refund_amount_gte_0'),
                ),
                migrations.AddIndex(
                    model_name='providerrefund',
                    index=models.Index(fields=['status', 'created_at'], name='provider_refund_due'),
                ),
                migrations.AddConstraint(
                    model_name='providerrefund',
                    constraint=models.UniqueConstraint(fields=('order', 'iccid', 'bundle_code'), name='provider_refund_once'),
                ),
                migrations.AddConstraint(
                    model_name='providerrefund',
                    constraint=models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='provider_refund_amount_gt_0'),
                ),
            ],
        ),
        content_types_move(
            models=["esim", "esimrefund", "providerrefund", "autotopuprule", "autotopuprun"],
            from_app="orders",
            to_app="fulfilment",
        ),
    ]
