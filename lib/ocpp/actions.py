# Every action name of OCPP 2.1 (both directions). Only consulted when the CSMS
# sends an action we have no handler for: a known one gets NotSupported, anything
# else NotImplemented (OCPP-J 2.x, RPC framework error codes).
# One string constant rather than a set: it stays in flash when frozen.
_ALL = (
    " AFRRSignal AdjustPeriodicEventStream Authorize BatterySwap BootNotification "
    "CancelReservation CertificateSigned ChangeAvailability ChangeTransactionTariff ClearCache "
    "ClearChargingProfile ClearDERControl ClearDisplayMessage ClearTariffs "
    "ClearVariableMonitoring ClearedChargingLimit ClosePeriodicEventStream CostUpdated "
    "CustomerInformation DataTransfer DeleteCertificate FirmwareStatusNotification "
    "Get15118EVCertificate GetBaseReport GetCertificateChainStatus GetCertificateStatus "
    "GetChargingProfiles GetCompositeSchedule GetDERControl GetDisplayMessages "
    "GetInstalledCertificateIds GetLocalListVersion GetLog GetMonitoringReport "
    "GetPeriodicEventStream GetReport GetTariffs GetTransactionStatus GetVariables Heartbeat "
    "InstallCertificate LogStatusNotification MeterValues NotifyAllowedEnergyTransfer "
    "NotifyChargingLimit NotifyCustomerInformation NotifyDERAlarm NotifyDERStartStop "
    "NotifyDisplayMessages NotifyEVChargingNeeds NotifyEVChargingSchedule NotifyEvent "
    "NotifyMonitoringReport NotifyPriorityCharging NotifyReport NotifySettlement "
    "NotifyWebPaymentStarted OpenPeriodicEventStream PublishFirmware "
    "PublishFirmwareStatusNotification PullDynamicScheduleUpdate ReportChargingProfiles "
    "ReportDERControl RequestBatterySwap RequestStartTransaction RequestStopTransaction "
    "ReservationStatusUpdate ReserveNow Reset SecurityEventNotification SendLocalList "
    "SetChargingProfile SetDERControl SetDefaultTariff SetDisplayMessage SetMonitoringBase "
    "SetMonitoringLevel SetNetworkProfile SetVariableMonitoring SetVariables SignCertificate "
    "StatusNotification TransactionEvent TriggerMessage UnlockConnector UnpublishFirmware "
    "UpdateDynamicSchedule UpdateFirmware UsePriorityCharging VatNumberValidation "
)


def known(action):
    return (" " + action + " ") in _ALL
